//! PCI types: addresses, IDs, class codes, command bits and BAR decoding. Pure logic; the
//! configuration-space access lives in `arch::pci`.
