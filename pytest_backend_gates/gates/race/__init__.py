"""gates/race"""
