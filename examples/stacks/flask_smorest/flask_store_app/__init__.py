"""Stores REST API: Flask + flask-smorest + flask-jwt-extended + Flask-SQLAlchemy.

The shape of the well-known "REST APIs with Flask and Python" store API: stores,
items that belong to a store, tags (unique per store) linked to items, and users
who register, log in and get JWTs. ``flask_store_app.app:app`` is the WSGI app.
"""
