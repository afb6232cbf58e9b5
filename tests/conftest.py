import os

from hypothesis import settings

# CI explores the same examples every run (a failure there is reproducible); local
# runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
