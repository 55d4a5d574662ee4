"""The pure middle: spec + recorded state + digests -> Plan, and the change arithmetic of revert.

Nothing under core/ touches a database, file, subprocess, network or clock; everything it
needs is passed in. A lint rule and a test keep I/O imports out.
"""
