"""Stagecoach: the platform-free engine that coaches organisations through social business maturity."""
