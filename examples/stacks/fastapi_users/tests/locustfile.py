"""The load gate's users: browse what exists, as the web client does.

Reads ids from the list answers instead of guessing them: by the time the load runs, the
contract gate's fuzzing has deleted some seeded rows and created others. They send the
headers of the gates' identity, which the load gate puts in BACKEND_GATES_HEADERS (JSON).
"""

from __future__ import annotations

import json
import os
import random

from locust import FastHttpUser, between, task


class Browser(FastHttpUser):
    wait_time = between(0.01, 0.05)

    def on_start(self) -> None:
        self.client.headers = json.loads(os.environ["BACKEND_GATES_HEADERS"])
        self.project_ids: list[int] = []
        self.task_ids: list[int] = []
        self.label_ids: list[int] = []
        self.refresh()

    def get(self, path: str, name: str | None = None) -> dict | None:
        with self.client.get(path, name=name or path, headers=self.client.headers, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:100]}")
                return None
            return response.json()

    @task(3)
    def refresh(self) -> None:
        page = self.get("/projects?limit=20", name="/projects")
        if page is not None:
            self.project_ids = [p["id"] for p in page["items"]]
            self.task_ids = [t["id"] for p in page["items"] for t in p["tasks"]]
        labels = self.get("/labels?limit=20", name="/labels")
        if labels is not None:
            self.label_ids = [label["id"] for label in labels["items"]]

    @task(2)
    def project(self) -> None:
        if self.project_ids:
            project_id = random.choice(self.project_ids)
            self.get(f"/projects/{project_id}", name="/projects/{project_id}")
            self.get(f"/projects/{project_id}/tasks", name="/projects/{project_id}/tasks")

    @task(2)
    def a_task(self) -> None:
        if self.task_ids:
            self.get(f"/tasks/{random.choice(self.task_ids)}", name="/tasks/{task_id}")

    @task(1)
    def label(self) -> None:
        if self.label_ids:
            self.get(f"/labels/{random.choice(self.label_ids)}", name="/labels/{label_id}")

    @task(1)
    def me(self) -> None:
        self.get("/users/me")

    @task(1)
    def health(self) -> None:
        self.get("/health")
