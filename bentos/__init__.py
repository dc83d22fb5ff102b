"""bifrost's BentoML services, one folder each; `bifrost serve NAME` finds them by entry point."""
