"""The decision log: every policy decision on personal data, recorded with its rules and
committed to the transparency log together with the write it allowed; and the dry run
(`/v1/policy/explain`) that shows how the policies would decide a described request."""
