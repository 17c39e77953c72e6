# prints a commented [tool.backend-gates] section found from the project; writes nothing.
# Appended to pyproject.toml (which has no such section yet):
pytest --backend-gates-init >> pyproject.toml
