pytest --backend-gates-init
