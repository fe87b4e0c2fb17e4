"""Everything that talks to the GitHub REST API: auth, the HTTP client, typed models."""
