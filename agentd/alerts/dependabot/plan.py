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
from agentd.ecosystems import PackageBump, Updater, updater_for
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
from agentd.vocabulary import AlertClass, ReasonCode


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

    @property
    def advisory_ids(self) -> list[str]:
        return sorted({a.security_advisory.ghsa_id for a in self.alerts})


@dataclass
class UnitPlan:
    target: Target
    alerts: list[DependabotAlert]
    packages: list[PackagePlan]
    updater: Updater | None

    @property
    def fixable(self) -> list[PackagePlan]:
        return [p for p in self.packages if p.problem is None and p.bumps]

    @property
    def advisory_ids(self) -> list[str]:
        return sorted({a for p in self.fixable for a in p.advisory_ids})

    @property
    def alert_numbers(self) -> list[int]:
        return sorted(a.number for a in self.alerts)

    def bumps(self) -> list[PackageBump]:
        return [b for p in self.fixable for b in p.bumps]

    def summary(self) -> list[str]:
        lines = [
            f"{b.name} {b.current_version} → {b.target_version} ({b.manifest_path})"
            for b in self.bumps()
        ]
        lines += [
            f"{p.display_name} ({p.key.manifest_path}): {p.problem.value} — {p.detail}"
            for p in self.packages
            if p.problem is not None
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
    chosen: Updater | None = None
    for key, group in sorted(groups.items(), key=lambda kv: (kv[0].manifest_path, kv[0].name)):
        plan = PackagePlan(key, group[0].dependency.package.name, group)
        updater = updater_for(list(target.ecosystems), key.ecosystem, key.manifest_path)
        if updater is None:
            plan.problem = ReasonCode.UNSUPPORTED_ECOSYSTEM
            plan.detail = (
                f"no updater among {target.ecosystems or ['(none)']} handles {key.manifest_path}"
            )
        elif chosen is not None and updater.name != chosen.name:
            plan.problem = ReasonCode.UNSUPPORTED_ECOSYSTEM
            plan.detail = (
                f"one unit drives one updater; {updater.name} files are left for a later run"
            )
        else:
            chosen = updater
            _choose_versions(plan, read_file)
        plans.append(plan)
    return UnitPlan(target, list(alerts), plans, chosen)


def _choose_versions(plan: PackagePlan, read_file: Callable[[str], bytes | None]) -> None:
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
        plan.bumps.append(
            PackageBump(
                name=found[0].name,
                manifest_path=key.manifest_path,
                current_version=version,
                target_version=selection.version,
                advisory_ids=tuple(sorted(set(selection.applicable))),
                relationship=relationship,
            )
        )
    if not plan.bumps:
        plan.problem = ReasonCode.SUPERSEDED
        plan.detail = f"no vulnerable version of {plan.display_name} is left in {key.manifest_path}"


def surviving_vulnerable(plan: UnitPlan, read_file: Callable[[str], bytes | None]) -> list[str]:
    """After an update: every package version still inside an open advisory's range."""
    survivors = []
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
                survivors.append(
                    f"{dependency.name} {dependency.version} in {key.manifest_path} "
                    f"({', '.join(sorted(hits))})"
                )
    return sorted(set(survivors))
