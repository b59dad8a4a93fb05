"""The decision log: every policy decision on personal data, recorded with its rules and
committed to the transparency log together with the write it allowed. The dry run that shows how
the policies would decide a described request (`/v1/policy/explain`) is zhengxin.dry_run."""
