"""The users of the distributed recipe (docs/load.md): the catalog of examples/load read by
shoppers. The load gate's master loads this file, and so does every worker:

    locust -f locustfile.py --worker --master-host=127.0.0.1 --master-port=5557

A worker gets the target (`base_url`) from the master, so the file names no host.
"""

from locust import FastHttpUser, between, task


class Shopper(FastHttpUser):
    # Short think time: the thresholds measure the service, not the users' pauses.
    wait_time = between(0.01, 0.05)

    @task(3)
    def product(self) -> None:
        self.client.get("/products/1", name="/products/{product_id}")

    @task
    def search(self) -> None:
        self.client.get("/search?q=e", name="/search")
