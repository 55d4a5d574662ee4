"""The values each command ends with: what ops return and render formats.

They sit apart from both sides so that the renderers (and the JSON Schemas made from them)
depend on values only, never on the code that computes them: render imports ``results`` and
``core``, never ``ops``, ``apply``, ``state`` or ``store``. Each module here is named after
its verb, as in ``ops`` and ``render``; ``records`` holds what the state hands out about its
rows (versions, applies, evaluations, the lock), which several results carry. Nothing here
does I/O or imports beyond ``core`` and the standard library.
"""
