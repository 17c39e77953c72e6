# the fixed twin: passes
pytest --backend-gates
# the buggy twin: fails, naming each defect
STACK_DEFECTS=1 pytest --backend-gates
