"""The version every JSON document but the plan carries, apart from the shapes (``shapes.py``)
so that rendering one document does not build the types of all of them."""

from typing import Final

FORMAT_VERSION: Final = 1
"""The version of every JSON document but the plan, which carries ``core.plan.PLAN_FORMAT``.
It changes when a field is removed or changes meaning, never when one is added."""
