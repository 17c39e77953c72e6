"""gates/latency"""
