"""gates/contract"""
