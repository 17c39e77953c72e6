import time

def test_fast():
    pass

def test_slow():
    time.sleep(0.3)
