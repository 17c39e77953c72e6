"""gates/security"""
