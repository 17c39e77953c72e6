"""Pet clinic API: Connexion 3 (spec first), Flask, SQLAlchemy 2.0, JWT bearer auth."""
