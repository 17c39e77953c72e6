pip install "pytest-backend-gates[load]"   # [load]: the load gate's locust
