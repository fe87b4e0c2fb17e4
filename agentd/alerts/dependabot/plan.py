"""Planning a Dependabot unit: alerts → targets → per-package version choices (SPEC §7).

Pure logic over alert payloads and dependency-file contents: no git, no network. Alert
payloads are untrusted input; a manifest path that is absolute, climbs out with `..`, or
holds control characters is refused here and reported, never used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from agentd import ecosystems
from agentd.ecosystems import Ecosystem, PackageBump, UnfixedBump, Updater, ecosystem_for
from agentd.github.models import DependabotAlert
from agentd.paths import relative_path
from agentd.profile import Target
from agentd.versions import (
    AdvisoryRange,
    RangeError,
    VersionError,
    is_vulnerable,
    select_fix_version,
)
from agentd.versions import UnsupportedEcosystem as UnsupportedVersionEcosystem
from agentd.vocabulary import AlertClass, AlertState, ReasonCode


def target_for(manifest_path: str, targets: Sequence[Target]) -> Target | None:
    """The target whose `path` is the longest prefix of the manifest's directory."""
    directory = PurePosixPath(manifest_path).parent
    best: Target | None = None
    best_len = -1
    for target in targets:
        root = PurePosixPath(target.path)
        prefix = () if str(root) == "." else root.parts
        if directory.parts[: len(prefix)] == prefix and len(prefix) > best_len:
            best, best_len = target, len(prefix)
    return best


@dataclass(frozen=True)
class PackageKey:
    ecosystem: str
    name: str  # normalized
    manifest_path: str


@dataclass
class PackagePlan:
    key: PackageKey
    display_name: str
    alerts: list[DependabotAlert]
    bumps: list[PackageBump] = field(default_factory=list)
    problem: ReasonCode | None = None
    detail: str = ""
    # Vulnerable copies this unit leaves (no patch in their line, refused by the updater):
    # the package's alerts stay open with their reason, the rest of the change stands.
    left: list[UnfixedBump] = field(default_factory=list)

    @property
    def advisory_ids(self) -> list[str]:
        return sorted({a.security_advisory.ghsa_id for a in self.alerts})

    @property
    def delivered(self) -> list[PackageBump]:
        """The bumps the change holds: planned, and not left by the updater."""
        left = {u.bump for u in self.left}
        return [b for b in self.bumps if b not in left]


@dataclass
class UnitPlan:
    target: Target
    alerts: list[DependabotAlert]
    packages: list[PackagePlan]
    ecosystem: Ecosystem | None

    @property
    def updater(self) -> Updater | None:
        return self.ecosystem.updater if self.ecosystem else None

    @property
    def fixable(self) -> list[PackagePlan]:
        return [p for p in self.packages if p.problem is None and p.bumps]

    def leave(self, unfixed: Sequence[UnfixedBump]) -> None:
        """Record the bumps the updater could not reach, on their packages."""
        for item in unfixed:
            for package in self.fixable:
                if item.bump in package.bumps and item not in package.left:
                    package.left.append(item)

    @property
    def advisory_ids(self) -> list[str]:
        return sorted({a for p in self.fixable for a in p.advisory_ids})

    @property
    def alert_numbers(self) -> list[int]:
        return sorted(a.number for a in self.alerts)

    def bumps(self) -> list[PackageBump]:
        return [b for p in self.fixable for b in p.bumps]

    def delivered(self) -> list[PackageBump]:
        return [b for p in self.fixable for b in p.delivered]

    def not_fixed(self) -> list[tuple[str, str, ReasonCode, str]]:
        """(package, file, reason, detail) of everything this unit leaves vulnerable."""
        rows = [
            (p.display_name, p.key.manifest_path, p.problem, p.detail)
            for p in self.packages
            if p.problem is not None
        ]
        rows += [
            (f"{u.bump.name} {u.bump.current_version}", u.bump.manifest_path, u.reason, u.detail)
            for p in self.fixable
            for u in p.left
        ]
        return rows

    def summary(self) -> list[str]:
        lines = [
            f"{b.name} {b.current_version} → {b.target_version} ({b.manifest_path})"
            for b in self.delivered()
        ]
        lines += [
            f"{name} ({path}): {reason.value} — {detail}"
            for name, path, reason, detail in self.not_fixed()
        ]
        return lines


@dataclass
class Unmapped:
    """Alerts no target can take: reported on their own."""

    manifest_path: str
    alerts: list[DependabotAlert]
    reason: ReasonCode
    detail: str


def group_by_target(
    alerts: Sequence[DependabotAlert], targets: Sequence[Target]
) -> tuple[dict[str, list[DependabotAlert]], list[Unmapped]]:
    by_target: dict[str, list[DependabotAlert]] = defaultdict(list)
    unmapped: dict[tuple[str, ReasonCode], list[DependabotAlert]] = defaultdict(list)
    details: dict[tuple[str, ReasonCode], str] = {}
    for alert in alerts:
        path = relative_path(alert.dependency.manifest_path)
        if path is None:
            key = ("(unsafe path)", ReasonCode.POLICY_BLOCKED)
            details[key] = (
                "the alert's manifest path is absolute, climbs out of the repository "
                "or is malformed; refused"
            )
            unmapped[key].append(alert)
            continue
        target = target_for(path, targets)
        if target is None:
            key = (path, ReasonCode.UNSUPPORTED_ECOSYSTEM)
            details[key] = f"no target covers {path}"
        elif AlertClass.DEPENDABOT not in target.alert_classes:
            key = (path, ReasonCode.POLICY_BLOCKED)
            details[key] = f"target {target.target_id} does not take Dependabot alerts"
        else:
            by_target[target.target_id].append(alert)
            continue
        unmapped[key].append(alert)
    return dict(by_target), [
        Unmapped(path, items, reason, details[(path, reason)])
        for (path, reason), items in sorted(unmapped.items(), key=lambda kv: kv[0][0])
    ]


def _ranges_for(
    alerts: Sequence[DependabotAlert], ecosystem: str, name: str
) -> list[AdvisoryRange]:
    """Every vulnerable range of every open advisory on this package (all major lines)."""
    ranges: set[AdvisoryRange] = set()
    for alert in alerts:
        advisory = alert.security_advisory
        vulnerabilities = [alert.security_vulnerability, *advisory.vulnerabilities]
        for vulnerability in vulnerabilities:
            package = vulnerability.package
            if (
                package.ecosystem != ecosystem
                or ecosystems.normalize_name(ecosystem, package.name) != name
            ):
                continue
            first = vulnerability.first_patched_version
            ranges.add(
                AdvisoryRange(
                    advisory.ghsa_id,
                    vulnerability.vulnerable_version_range,
                    first.identifier if first else None,
                )
            )
    return sorted(ranges, key=lambda r: (r.advisory_id, r.vulnerable_version_range))


def plan_unit(
    target: Target,
    alerts: Sequence[DependabotAlert],
    read_file: Callable[[str], bytes | None],
) -> UnitPlan:
    """Decide, per vulnerable package, which version to move to (or why not)."""
    groups: dict[PackageKey, list[DependabotAlert]] = defaultdict(list)
    for alert in alerts:
        package = alert.dependency.package
        path = relative_path(alert.dependency.manifest_path) or ""
        key = PackageKey(
            package.ecosystem, ecosystems.normalize_name(package.ecosystem, package.name), path
        )
        groups[key].append(alert)
    plans = []
    chosen: Ecosystem | None = None
    for key, group in sorted(groups.items(), key=lambda kv: (kv[0].manifest_path, kv[0].name)):
        plan = PackagePlan(key, group[0].dependency.package.name, group)
        ecosystem = ecosystem_for(list(target.ecosystems), key.ecosystem, key.manifest_path)
        if ecosystem is None:
            plan.problem = ReasonCode.UNSUPPORTED_ECOSYSTEM
            plan.detail = (
                f"no updater among {target.ecosystems or ['(none)']} handles {key.manifest_path}"
            )
        elif chosen is not None and ecosystem.name != chosen.name:
            plan.problem = ReasonCode.UNSUPPORTED_ECOSYSTEM
            plan.detail = (
                f"one unit drives one updater; {ecosystem.name} files are left for a later run"
            )
        else:
            chosen = ecosystem
            _choose_versions(plan, read_file, ecosystem.parent_updates)
        plans.append(plan)
    return UnitPlan(target, list(alerts), plans, chosen)


def _choose_versions(
    plan: PackagePlan, read_file: Callable[[str], bytes | None], parent_updates: bool
) -> None:
    key = plan.key
    content = read_file(key.manifest_path)
    if content is None:
        plan.problem, plan.detail = (
            ReasonCode.DEPENDENCY_REMOVED,
            f"{key.manifest_path} no longer exists",
        )
        return
    try:
        found = [
            d
            for d in ecosystems.parse_dependency_file(key.manifest_path, content)
            if ecosystems.normalize_name(d.ecosystem, d.name) == key.name
        ]
    except ecosystems.DepfileError as exc:
        plan.problem, plan.detail = (
            ReasonCode.VERIFICATION_FAILED,
            f"cannot parse {key.manifest_path}: {exc}",
        )
        return
    if not found:
        plan.problem = ReasonCode.DEPENDENCY_REMOVED
        plan.detail = f"{plan.display_name} is no longer in {key.manifest_path}"
        return
    ranges = _ranges_for(plan.alerts, key.ecosystem, key.name)
    for version in sorted({d.version for d in found}):
        try:
            selection = select_fix_version(key.ecosystem, version, ranges)
        except (VersionError, RangeError, UnsupportedVersionEcosystem) as exc:
            plan.problem, plan.detail = (
                ReasonCode.UNSUPPORTED_ECOSYSTEM,
                f"cannot order versions: {exc}",
            )
            return
        if selection.version is None and selection.applicable:
            plan.problem = ReasonCode.NO_PATCH_AVAILABLE
            plan.detail = f"{plan.display_name} {version}: {selection.reason}"
            return
        if selection.version is None:
            continue  # this copy is not vulnerable (another copy of the package is)
        relationship = next((d.relationship for d in found if d.version == version), "unknown")
        bump = PackageBump(
            name=found[0].name,
            manifest_path=key.manifest_path,
            current_version=version,
            target_version=selection.version,
            advisory_ids=tuple(sorted(set(selection.applicable))),
            relationship=relationship,
            in_line=not selection.crosses_major,
        )
        if bump.in_line or parent_updates:
            plan.bumps.append(bump)
        else:
            plan.left.append(UnfixedBump(bump, ReasonCode.NO_PATCH_AVAILABLE, off_line(bump)))
    if plan.left and not plan.bumps:
        plan.problem = ReasonCode.NO_PATCH_AVAILABLE
        plan.detail = "; ".join(u.detail for u in plan.left)
        plan.left = []
    elif not plan.bumps:
        plan.problem = ReasonCode.SUPERSEDED
        plan.detail = f"no vulnerable version of {plan.display_name} is left in {key.manifest_path}"


def off_line(bump: PackageBump) -> str:
    """Why a copy with no patch in its own major line stays."""
    return (
        f"{bump.name} {bump.current_version} has no patched version in its own major line "
        f"(the first fix, {bump.target_version}, is in another); a person decides"
    )


@dataclass(frozen=True)
class Survivor:
    """A vulnerable version still locked after the update."""

    package: PackageKey
    name: str
    version: str
    advisory_ids: tuple[str, ...]

    def describe(self) -> str:
        return (
            f"{self.name} {self.version} in {self.package.manifest_path} "
            f"({', '.join(self.advisory_ids)})"
        )


def survivors(plan: UnitPlan, read_file: Callable[[str], bytes | None]) -> list[Survivor]:
    """After an update: every version of a planned package inside an open advisory's range."""
    found: set[Survivor] = set()
    for package in plan.fixable:
        key = package.key
        content = read_file(key.manifest_path)
        if content is None:
            continue
        ranges = _ranges_for(package.alerts, key.ecosystem, key.name)
        for dependency in ecosystems.parse_dependency_file(key.manifest_path, content):
            if ecosystems.normalize_name(dependency.ecosystem, dependency.name) != key.name:
                continue
            try:
                hits = is_vulnerable(key.ecosystem, dependency.version, ranges)
            except (VersionError, RangeError):
                # A version agentd cannot order cannot be proven safe: count it as surviving.
                hits = ["unorderable version"]
            if hits:
                found.add(Survivor(key, dependency.name, dependency.version, tuple(sorted(hits))))
    return sorted(found, key=lambda s: (s.package.manifest_path, s.name, s.version))


def unexpected(plan: UnitPlan, found: Sequence[Survivor]) -> list[Survivor]:
    """Survivors the unit does not account for: not a copy it left on purpose."""
    left = {(p.key, u.bump.current_version) for p in plan.fixable for u in p.left}
    return [s for s in found if (s.package, s.version) not in left]


def alert_states(plan: UnitPlan, found: Sequence[Survivor]) -> list[AlertState]:
    """Per alert of the unit: does the change remove every version its advisory names?"""
    states = []
    by_package = {p.key: p for p in plan.packages}
    for alert in sorted(plan.alerts, key=lambda a: a.number):
        package = alert.dependency.package
        key = PackageKey(
            package.ecosystem,
            ecosystems.normalize_name(package.ecosystem, package.name),
            relative_path(alert.dependency.manifest_path) or "",
        )
        ghsa = alert.security_advisory.ghsa_id
        planned = by_package.get(key)
        state = AlertState(number=alert.number, package=package.name, advisory_id=ghsa, fixed=True)
        if planned is None or planned.problem is not None:
            reason = planned.problem if planned else ReasonCode.UNSUPPORTED_ECOSYSTEM
            detail = planned.detail if planned else "not planned"
            state = state.model_copy(update={"fixed": False, "reason": reason, "detail": detail})
        else:
            staying = [s for s in found if s.package == key and ghsa in s.advisory_ids]
            if staying:
                why = next(
                    (u for u in planned.left if u.bump.current_version == staying[0].version),
                    None,
                )
                state = state.model_copy(
                    update={
                        "fixed": False,
                        "reason": why.reason if why else ReasonCode.VERIFICATION_FAILED,
                        "detail": why.detail if why else f"{staying[0].describe()} stays",
                    }
                )
        states.append(state)
    return states


def open_states(plan: UnitPlan, reason: ReasonCode, detail: str) -> list[AlertState]:
    """Every alert of a unit that delivers nothing: open, each with its package's reason."""
    states = []
    for state in alert_states(plan, []):
        package = next((p for p in plan.fixable if p.display_name == state.package), None)
        left = package.left[0] if package is not None and package.left else None
        why = (state.reason, state.detail) if state.reason else (
            (left.reason, left.detail) if left else (reason, detail)
        )  # fmt: skip
        states.append(state.model_copy(update={"fixed": False, "reason": why[0], "detail": why[1]}))
    return states


def surviving_vulnerable(plan: UnitPlan, read_file: Callable[[str], bytes | None]) -> list[str]:
    """After an update: every package version still inside an open advisory's range."""
    return [s.describe() for s in survivors(plan, read_file)]
