"""Runtime glue shared by the worker and the CLI: settings, the Temporal client, policy files."""
