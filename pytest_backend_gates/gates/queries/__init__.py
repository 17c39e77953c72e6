"""gates/queries"""
