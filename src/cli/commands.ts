// Commands beyond `run` register themselves here, one file each.
export {};
