"""gates/coverage"""
