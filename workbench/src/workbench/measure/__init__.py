"""The optimization lab: every pattern of src/ measured against its naive twin, and a cost model.

Naive twins live in workbench/labs/ and do the same work as the real code; only the pattern differs.
They never ship: src/ does not import this package.
"""
