"""`kube play`, `kube down` and `kube generate`."""
