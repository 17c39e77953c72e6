pytest --backend-gates
