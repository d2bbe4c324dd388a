"""What a replica tells operators about itself: Prometheus metrics."""
