"""The domain: settings, models and migrations, the reader lifecycle, the delivery and
reply state machines, tracked addresses, the queue and job names, and the web app
(``service.web``). It never imports ``workers``; see docs/ARCHITECTURE.md."""
