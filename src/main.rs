// jemalloc hands freed memory back and fragments less across the SQL lane's threads: with the
// system allocator the 1M-customer run kept ~1.4 GB it had freed (peak 3.1 GB → 2.5 GB).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    std::process::exit(vitals::cli::main());
}
