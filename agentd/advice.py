"""What each reason code means for an operator, and what to do about it."""

from __future__ import annotations

from agentd.vocabulary import ReasonCode

ADVICE: dict[ReasonCode, str] = {
    ReasonCode.SUPERSEDED: "Nothing: the alerts were fixed or dismissed elsewhere; agentd closed its PR.",
    ReasonCode.ADVISORY_WITHDRAWN: "Nothing: GitHub withdrew the advisory.",
    ReasonCode.DEPENDENCY_REMOVED: "Nothing: the dependency is gone from the repository.",
    ReasonCode.UNSUPPORTED_ALERT_CLASS: "Enable the alert class on the repository (or stop listing it in the profile).",
    ReasonCode.UNSUPPORTED_ECOSYSTEM: "Fix it by hand, or add a target whose ecosystems cover this dependency file.",
    ReasonCode.VERIFICATION_UNAVAILABLE: "Read the detail: a verification command or sandbox that cannot run here is set-up to fix (the profile's verification_commands, the tool, bubblewrap); a git or GitHub fault clears on the next run.",
    ReasonCode.VERIFICATION_FAILED: "Read the output tail: the fix breaks the target's own tests or the tool refused; fix by hand.",
    ReasonCode.CHECKS_PENDING: "Nothing: the next run merges once required checks finish green.",
    ReasonCode.CHECKS_RED: "Look at the failing required checks on the PR; fix or close it.",
    ReasonCode.BRANCH_PROTECTION_BLOCK: "GitHub refused the merge (reviews, conflicts, rules): a person merges the PR.",
    ReasonCode.MANIFEST_CHANGE_REQUIRED: "The fix needs a manifest change the ecosystem rule forbids: review and change it by hand.",
    ReasonCode.NO_PATCH_AVAILABLE: "No fixed version exists: replace the dependency, mitigate, or dismiss the alert with a reason.",
    ReasonCode.CLONE_MISSING: "Clone the repository at its local_path (agentd never clones).",
    ReasonCode.RATE_LIMITED: "Nothing urgent: the limit resets and the next run continues; lower parallelism if it recurs.",
    ReasonCode.ENV_MISMATCH: "Run agentd on a supported platform, or provide the required variables.",
    ReasonCode.AUTH_INSUFFICIENT: "Grant the token the missing permission (see the operator guide's token table).",
    ReasonCode.REGISTRY_AUTH_MISSING: "Provide the registry credential: allowlist its name and set it in the environment or dotenv file.",
    ReasonCode.LOCK_CONTENDED: "Nothing: another run of this profile is active; check `agentd lock status` if it persists.",
    ReasonCode.INTERNAL_ERROR: "A defect in agentd itself: report it with the run log; nothing in the repository needs fixing.",
    ReasonCode.POLICY_BLOCKED: "Intended by the profile's policy (mode, rules, budget); change the profile if you disagree.",
    ReasonCode.UNSUPPORTED_RULE: "Fix the finding by hand, or allowlist the rule if agentd supports it.",
    ReasonCode.CODE_SCANNING_DISABLED: "Enable code scanning on the repository to have findings remediated.",
    ReasonCode.SECRET_SCANNING_DISABLED: "Enable secret scanning on the repository.",
    ReasonCode.NO_ANALYSIS_FOUND: "Upload a code-scanning analysis (e.g. enable CodeQL default setup).",
    ReasonCode.HISTORY_REWRITE_REQUIRED: "Rotate the secret now; purge it from history only if policy demands (agentd never rewrites history).",
}


def advice_for(reason: ReasonCode | None) -> str:
    return ADVICE.get(reason, "") if reason else ""
