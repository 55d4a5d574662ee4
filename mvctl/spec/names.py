"""What a project, model or alias name may be: shared by the spec models and the code that
reads names without them (locating a project, a bundle's manifest, a recorded run)."""

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
MAX_NAME_LENGTH = 128
