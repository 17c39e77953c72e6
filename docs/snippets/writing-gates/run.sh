python -m pytest -p slow_tests_gate --backend-gates
echo $?   # 1: the gate failed, although both tests passed
