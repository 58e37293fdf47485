/* placeholder */
typedef int postie_placeholder_worker;
