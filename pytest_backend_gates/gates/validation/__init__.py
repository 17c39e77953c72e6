"""gates/validation"""
