"""The remediation passes: Dependabot, code scanning, secret scanning, reconcile."""
