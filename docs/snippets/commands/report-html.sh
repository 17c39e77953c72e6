pytest --backend-gates --backend-gates-html=build/backend-gates.html
