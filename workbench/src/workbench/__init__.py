"""The workbench of the orders service: a Docker-free `sam local` for SAM templates (`emulator`), the
scenarios that drive this service (`scenarios`), and the harness that measures its optimizations
against their naive twins (`measure`, with the guides in `workbench/labs/`). It imports the service's
test kit (sam_testkit), never the service: src/ does not import it either.
"""
