"""The process runtime: what ``organiser run`` is beyond the core and the platforms.

``serve`` starts every configured adapter, the scheduler, the outbox worker,
``/healthz`` and the heartbeat in one asyncio loop; ``leader`` holds the leads
that only one of several workers may hold (the scheduler, the Discord gateway);
``health`` says how this worker and the deployment are; ``meta`` is the small
key/value table they share. Platform adapters never import this package: what
they need of it (a lead, a memory that survives restarts) is handed to them.
"""
