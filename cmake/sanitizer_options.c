/* Linked into every executable of a -DSHUTTLE_SANITIZE build (cmake/Sanitize.cmake): the
 * sanitizers' default options, compiled in, because the tests run the plugin with a cleared
 * environment (`env -i`, as a container runtime does), where ASAN_OPTIONS would be lost.
 * An ASAN_OPTIONS/UBSAN_OPTIONS/LSAN_OPTIONS variable, when set, still overrides these.
 *
 * Every report goes to SHUTTLE_SANITIZER_LOG_DIR/report.<exe>.<pid> (tools/test-asan.sh
 * fails the run on any file there, also when a test ignored the process's exit status),
 * and the process exits with 23: a leak at exit too. */
#if !defined(SHUTTLE_SANITIZER_LOG_DIR) || !defined(SHUTTLE_LSAN_SUPPRESSIONS)
#error "SHUTTLE_SANITIZER_LOG_DIR and SHUTTLE_LSAN_SUPPRESSIONS are set by cmake/Sanitize.cmake"
#endif

#define SHUTTLE_COMMON_OPTIONS \
    "exitcode=23:abort_on_error=0:log_exe_name=1:log_path=" SHUTTLE_SANITIZER_LOG_DIR "/report"

const char* __asan_default_options(void);
const char* __ubsan_default_options(void);
const char* __lsan_default_options(void);

const char* __asan_default_options(void) {
    return SHUTTLE_COMMON_OPTIONS
        ":detect_leaks=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
        ":check_initialization_order=1";
}

const char* __ubsan_default_options(void) {
    return SHUTTLE_COMMON_OPTIONS ":halt_on_error=1:print_stacktrace=1";
}

/* Leaks inside third-party libraries only, each with its reason (tools/sanitizer/lsan.supp). */
const char* __lsan_default_options(void) {
    return SHUTTLE_COMMON_OPTIONS ":suppressions=" SHUTTLE_LSAN_SUPPRESSIONS
                                  ":print_suppressions=0";
}
