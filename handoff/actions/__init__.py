"""Custom actions as the server offers them: save, validate, test, publish, invoke, logs, env."""
