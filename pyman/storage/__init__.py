"""Local storage: blobs, unpacked layers, images, containers, rootfs mounts, locks."""
