"""Load profile of the clinic's front desk: mostly reads of a pet's file, now and then a new visit.

Run by the load gate (`[tool.backend-gates.load] locustfile`), or by hand:
    locust -f tests/locustfile.py --host http://127.0.0.1:8000 --headless -u 4 -t 10s
with BACKEND_GATES_HEADERS set to the headers to send, as JSON: the load gate sets it to its
identity's (`{"Authorization": "Bearer <token>"}`, the token from `POST /api/auth/login`).
"""

from __future__ import annotations

import json
import os
import random
import uuid

from locust import FastHttpUser, between, task


class FrontDesk(FastHttpUser):
    wait_time = between(0.01, 0.05)
    default_headers = json.loads(os.environ.get("BACKEND_GATES_HEADERS") or "{}")  # the gates' identity

    def on_start(self) -> None:
        # Data of its own: fuzzing and other users may delete the seeded rows at any time.
        owner = self.client.post("/api/owners", json={"first_name": "Load", "last_name": uuid.uuid4().hex[:12],
                                                      "email": "load@example.com"}).json()
        tag = self.client.post("/api/tags", json={"name": f"load-{uuid.uuid4().hex[:12]}"}).json()
        pet = self.client.post("/api/pets", json={"name": "Loady", "species": "cat", "owner_id": owner["id"],
                                                  "tag_ids": [tag["id"]]}).json()
        self.owner_id, self.pet_id, self.tag_id = owner["id"], pet["id"], tag["id"]
        self.visit_ids = [self._new_visit()]

    def _new_visit(self) -> int:
        response = self.client.post(f"/api/pets/{self.pet_id}/visits", name="/api/pets/{pet_id}/visits",
                                    json={"visit_date": "2025-06-01", "reason": "check-up", "vet_name": "Dr. Load"})
        return int(response.json()["id"])

    @task(4)
    def list_pets(self) -> None:
        self.client.get("/api/pets?limit=20", name="/api/pets")

    @task(3)
    def pet_file(self) -> None:
        self.client.get(f"/api/pets/{self.pet_id}", name="/api/pets/{pet_id}")
        self.client.get(f"/api/pets/{self.pet_id}/visits", name="/api/pets/{pet_id}/visits")

    @task(2)
    def owner_file(self) -> None:
        self.client.get(f"/api/owners/{self.owner_id}", name="/api/owners/{owner_id}")

    @task(1)
    def visit(self) -> None:
        self.client.get(f"/api/visits/{random.choice(self.visit_ids)}", name="/api/visits/{visit_id}")

    @task(1)
    def tags(self) -> None:
        self.client.get("/api/tags", name="/api/tags")
        self.client.get(f"/api/tags/{self.tag_id}", name="/api/tags/{tag_id}")

    @task(1)
    def record_visit(self) -> None:
        self.visit_ids.append(self._new_visit())
