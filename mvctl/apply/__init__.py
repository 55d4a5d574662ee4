"""The apply edge: one handler per plan action, step subprocesses, the built-in trainers."""
