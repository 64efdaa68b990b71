/// mimalloc rather than glibc's malloc: per request, the gateway allocates and frees a few
/// hundred small objects (hyper's buffers, headers and futures) on one thread.
/// Under callgrind (`scripts/bench-gateway instructions`) glibc's malloc and free were a fifth
/// of the gateway's instructions; mimalloc cut the total per request by 14-17 % at 64
/// concurrent requests.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    server::cli::main()
}
