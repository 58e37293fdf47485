/* placeholder */
typedef int postie_placeholder_master;
