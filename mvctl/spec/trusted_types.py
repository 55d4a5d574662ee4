"""Which names a model's `trusted_types:` may never list, whatever the config says.

A skops archive names the types it builds, and a type skops is told to trust may be called
with arguments the file chooses. Members of the modules below run code, reach the system or
deserialise pickles (``builtins.eval``, ``os.system``, ``numpy.load``, ``functools.partial``),
so listing them would hand a model file a shell. The types a model legitimately needs from
builtins and numpy (int, list, ndarray, dtypes) are trusted by skops already.
"""

from __future__ import annotations

REFUSED_MODULES = frozenset(
    {
        "builtins",
        "numpy",
        "operator",
        "functools",
        "os",
        "posix",
        "nt",
        "subprocess",
        "importlib",
        "sys",
        "shutil",
        "pickle",
        "_pickle",
        "marshal",
        "runpy",
        "code",
        "codeop",
        "ctypes",
        "socket",
        "pty",
        "multiprocessing",
        "types",
        "io",
        "pathlib",
        "tempfile",
        "shelve",
        "joblib",
        "dill",
        "cloudpickle",
    }
)
"""Top-level modules: a name inside any of them (``numpy.lib.format.read_array`` too) is refused."""


def refused_type(name: str) -> str | None:
    """Why ``name`` can never be trusted, or None when it may be."""
    module = name.split(".", 1)[0]
    if module in REFUSED_MODULES:
        return (
            f"'{name}' is in {module}, whose members can run code or reach the system, "
            "so mvctl never trusts it"
        )
    return None
