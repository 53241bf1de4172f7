"""One prepared fine-tuning job for a lent GPU: pack here, run there, unpack here."""
