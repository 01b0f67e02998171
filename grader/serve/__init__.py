"""``grader serve``: the course's submission site (FastAPI pages over a job queue).

The web tier only stores submissions and queues jobs; worker processes claim the jobs
and grade them in the grader's box. Every import of the rest of the grader goes through
``grader.serve.bridge``.
"""
