"""gates/load"""
